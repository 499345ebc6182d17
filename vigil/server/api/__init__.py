"""The HTTP API: one router per resource, each with the shapes of its answers (``answers`` holds the
shared base). Routes read requests, call the services (``vigil.server.services``) through the typed
dependencies of ``deps`` and ``vigil.server.auth``, and shape answers; ``vigil.server.wire`` turns
errors into HTTP answers. Who may call each route: ``vigil.server.roles``."""

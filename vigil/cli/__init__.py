"""The ``vigil`` command line (``main``), one module per group of commands; it talks to a server over HTTP
and imports the statistics stack only for the commands that compare files."""

"""The `qstar` command: one module per verb or domain, thin, calling the library."""

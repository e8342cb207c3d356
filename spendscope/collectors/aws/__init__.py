"""AWS collectors: one module per kind of data read from AWS APIs (``inventory``: resources)."""

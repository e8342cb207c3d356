"""AWS collectors, one module per kind of data read from AWS (billing exports, resource inventory)."""

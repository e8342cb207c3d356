"""spendscope: cloud bills in one FOCUS warehouse, analysed, exported as metrics, tickets and reports."""

__version__ = "0.1.0"

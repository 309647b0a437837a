"""The notebook widgets, one module per widget, with the parts each one carries."""

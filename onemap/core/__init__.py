"""The bottom of the stack: the layer model, settings, the city, errors."""

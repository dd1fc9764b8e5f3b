"""Front end: read a function's source, resolve its names, fence off what is unsupported,
and normalise it to one operation per statement."""

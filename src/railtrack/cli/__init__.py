"""The command-line front end: one module per noun, each a thin layer over the library."""

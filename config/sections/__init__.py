"""One module per settings section; ``config.schema`` composes them."""

"""Examples of merchant code: snippets, and a small shop (``examples.shop``)."""

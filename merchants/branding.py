"""A merchant's colour on the customer pages, with text colours that keep WCAG AA contrast.

Text on the brand colour is pure black or pure white, whichever contrasts more: one of them
always reaches 4.58:1 (the two ratios multiply to 21). Links on the white page use the brand
colour darkened until it reaches 4.5:1 on white.
"""

AA_CONTRAST = 4.5
BLACK = "#000000"
WHITE = "#ffffff"


def _channels(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance (WCAG 2.x)."""
    r, g, b = (_linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(color: str) -> str:
    """The text colour, black or white, that reads best on `color`."""
    return BLACK if contrast(color, BLACK) >= contrast(color, WHITE) else WHITE


def ink_on_white(color: str) -> str:
    """`color`, darkened step by step until it reaches AA contrast on a white page."""
    r, g, b = _channels(color)
    while contrast(f"#{r:02x}{g:02x}{b:02x}", WHITE) < AA_CONTRAST:
        r, g, b = (int(c * 0.9) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def brand_colors(color: str) -> dict[str, str]:
    return {"brand": color, "on_brand": text_on(color), "brand_ink": ink_on_white(color)}

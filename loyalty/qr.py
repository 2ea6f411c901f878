"""QR codes drawn on the server as inline SVG (segno), for the pages and the admin."""

import segno
from django.utils.safestring import mark_safe


def qr_svg(data: str, title: str) -> str:
    """`data` as a QR code in inline SVG, black on white with its quiet zone, whatever the
    page's colours; `title` is its accessible name."""
    # make_qr: a full QR code; segno.make would pick a Micro QR for short data, which many
    # scanners do not read.
    svg = segno.make_qr(data, error="m").svg_inline(
        scale=1,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,
        svgclass="qr",
        title=title,  # escaped by segno
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))

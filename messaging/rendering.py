"""Rendering email templates: the Django template language on plain data.

Templates are operator-edited, so they run on engines of their own: no template loaders
(`{% include %}` and `{% extends %}` find nothing), no tag libraries beyond the built-ins,
and contexts hold only strings, numbers, dates and URLs, never model instances. The HTML part
is autoescaped; the subject and the text part are not (they are not HTML).

Each code's sample context is registered by the app that sends it (`register_sample`): a
template is checked against it when saved, and the admin previews with it.
"""

from dataclasses import dataclass

from django.template import Context, Engine, TemplateSyntaxError

# (A Context's own autoescape flag is what counts when rendering: each render passes it.)
_html_engine = Engine(autoescape=True)
_text_engine = Engine(autoescape=False)
# For checks only: an unknown variable shows as this marker, so a misspelt name is refused
# instead of rendering as nothing in every email.
_UNKNOWN = "\x00unknown:%s\x00"
_strict_engines = {
    True: Engine(autoescape=True, string_if_invalid=_UNKNOWN),
    False: Engine(autoescape=False, string_if_invalid=_UNKNOWN),
}

_samples: dict[str, dict] = {}

PARTS = (("subject", False), ("text_body", False), ("html_body", True))


def register_sample(code: str, context: dict) -> None:
    """Declare an email code and the context it is sent with (sample values)."""
    _samples[code] = context


def sample_context(code: str) -> dict | None:
    return _samples.get(code)


def known_codes() -> list[str]:
    return sorted(_samples)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateRenderError(Exception):
    def __init__(self, part: str, message: str):
        self.part = part
        self.message = message
        super().__init__(f"{part}: {message}")


class CompiledTemplate:
    """A template's three parts, compiled once and rendered for many contexts."""

    def __init__(self, template):
        self._parts = [
            (
                (_html_engine if is_html else _text_engine).from_string(getattr(template, name)),
                is_html,
            )
            for name, is_html in PARTS
        ]

    def render(self, context: dict) -> RenderedEmail:
        subject, text, html = (
            part.render(Context(context, autoescape=is_html)) for part, is_html in self._parts
        )
        # A header is one line, whatever the template's whitespace.
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)


def check_renders(template) -> None:
    """Raise TemplateRenderError naming the part and the problem unless every part of the
    template renders against the sample context of its code, with no unknown variable."""
    context = sample_context(template.code)
    if context is None:
        known = ", ".join(known_codes()) or "none"
        raise TemplateRenderError("code", f"Unknown email code {template.code!r} (known: {known}).")
    for name, is_html in PARTS:
        source = getattr(template, name) or ""
        try:
            compiled = _strict_engines[is_html].from_string(source)
            rendered = compiled.render(Context(context, autoescape=is_html))
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(name, f"Template error: {exc}") from None
        except Exception as exc:
            raise TemplateRenderError(
                name, f"Does not render: {type(exc).__name__}: {exc}"
            ) from None
        if "\x00unknown:" in rendered:
            unknown = sorted(
                {chunk.split("\x00", 1)[0] for chunk in rendered.split("\x00unknown:")[1:]}
            )
            available = ", ".join(sorted(context))
            raise TemplateRenderError(
                name,
                f"Unknown variable {', '.join(unknown) or '(empty)'}; "
                f"the variables of {template.code} are: {available}.",
            )

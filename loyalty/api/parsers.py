"""The JSON parser of the APIs: DRF's, with a bound on nesting.

No request the APIs take nests more than a few levels. Python's JSON decoder recurses once per
level, so a body nested about a thousand levels deep would end in a RecursionError (a server
error) instead of an answer; anything deeper than MAX_NESTING is refused as invalid input.
"""

from rest_framework.parsers import JSONParser

from loyalty.errors import InvalidInput

MAX_NESTING = 32


class NestingLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if _nesting_exceeds(data, MAX_NESTING):
            raise _too_deep()
        return data


def _too_deep() -> InvalidInput:
    return InvalidInput(f"The JSON body is nested deeper than {MAX_NESTING} levels.")


def _nesting_exceeds(data, limit: int) -> bool:
    # Iterative, so that checking a deep document cannot itself run out of stack.
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False

"""Request parsers of the API: DRF's, refusing text that cannot be encoded as UTF-8.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`) and a form or multipart body may declare a
charset (UTF-7) whose decoder yields one. Such a string is not text: every validation message
that quotes it ("… is not a valid choice") would fail to render, and PostgreSQL refuses to store
it. Refusing it here, once, as a 400 `{"detail", "code": "invalid_text"}`, means no serializer,
filter or service ever sees one (docs/security/hostile-input.md).

A JSON body must also be an object: every endpoint takes named fields, so an array, a string, a
number or `null` at the top level is refused instead of being read as "no fields given".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class InvalidText(ParseError):
    default_code = "invalid_text"


def is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strings(value: Any) -> Iterable[str]:
    """Every string in a parsed body: keys and values, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            if hasattr(item, "lists"):  # QueryDict / MultiValueDict: every value, not the last
                for key, values in item.lists():
                    stack.append(key)
                    stack.extend(values)
            else:
                for key, child in item.items():
                    stack.append(key)
                    stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif getattr(item, "name", None) is not None and hasattr(item, "read"):
            stack.append(item.name)  # an uploaded file: its client-given name


def refuse_unencodable(*values: Any) -> None:
    """Raise InvalidText when any string in `values` cannot be encoded as UTF-8."""
    for value in values:
        for text in _strings(value):
            if not is_encodable(text):
                raise InvalidText(
                    _(
                        "The request contains text that is not valid Unicode (a lone surrogate "
                        "such as \\ud800). Send UTF-8 text."
                    )
                )


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise ParseError(_("The request body must be a JSON object of named fields."))
        refuse_unencodable(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_unencodable(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        result = super().parse(stream, media_type, parser_context)
        refuse_unencodable(result.data, result.files)
        return result

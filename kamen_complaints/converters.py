"""URL converters shared by the apps.

Order and complaint numbers arrive as path segments anyone can type. Matching their shape in
the URL itself turns junk (a NUL byte, which PostgreSQL refuses in a query; 300 characters)
into a plain 404 before any view or query runs, for every endpoint at once.
"""


class NumberConverter:
    """An order or complaint number: 1 to 40 letters and digits (KM261125QJJVCHPB36)."""

    regex = "[0-9A-Za-z]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value

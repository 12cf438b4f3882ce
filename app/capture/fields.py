"""Small forms for the referrer's page: WTForms' rules and validators, without its fields.

A submission is read as a dozen small forms (each person, each named question,
each vendor, and the page's own fields). As WTForms forms, binding their fields
cost more than everything else in reading and checking them: about 0.13 ms per
person row, a sixth of a whole submission's time. A ``PlainForm`` declares its
fields once per class (``Text``, ``Check``, ``Radio``) and reads a post into
light ``Field`` objects, following WTForms' rules (the first value posted, the
default when nothing is, the filters, the choices) and running WTForms' own
validators, so the messages and edge cases stay WTForms'.

A ``Field`` offers what the templates, ``templating.radio_options`` and the
validators read of a WTForms field: ``id``, ``name``, ``data``, ``raw_data``,
``errors``, ``label.text``, ``choices``, ``_value()``, ``gettext``. Nothing
here renders a field; the templates write the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from wtforms.validators import StopValidation, ValidationError

_UNSET = object()


class Label(NamedTuple):
    text: str


class Field:
    """One input of one form, as posted (or as first shown) and as checked."""

    __slots__ = ("spec", "name", "id", "data", "raw_data", "errors", "process_errors")

    def __init__(self, spec: Spec, name: str, data: Any, raw_data: list, process_errors: list):
        self.spec = spec
        self.name = self.id = name
        self.data = data
        self.raw_data = raw_data
        self.process_errors = process_errors
        self.errors: list[str] = []

    @property
    def label(self) -> Label:
        return self.spec.label

    @property
    def choices(self) -> Sequence:
        return self.spec.choices

    def _value(self) -> str:
        """What a text input shows: the value as typed (WTForms' name for it)."""
        return str(self.data) if self.data is not None else ""

    # WTForms' validators word their messages through the field; ours are English only.
    def gettext(self, string: str) -> str:
        return string

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural

    def validate(self, form) -> bool:
        """Run the field's checks as WTForms does: ``errors`` says what is wrong."""
        self.errors = list(self.process_errors)
        stopped = False
        try:
            self.spec.pre_validate(self)
        except StopValidation as stop:
            if stop.args and stop.args[0]:
                self.errors.append(stop.args[0])
            stopped = True
        except ValidationError as error:
            self.errors.append(error.args[0])
        if not stopped:
            for validator in self.spec.validators:
                try:
                    validator(form, self)
                except StopValidation as stop:
                    if stop.args and stop.args[0]:
                        self.errors.append(stop.args[0])
                    break
                except ValidationError as error:
                    self.errors.append(error.args[0])
        return not self.errors


class Spec:
    """A field as its form class declares it: label, validators, and how a post is read.

    The base reads text, as WTForms' ``StringField`` (and its email, phone, hidden
    and text area kin) does.
    """

    choices: Sequence = ()

    def __init__(
        self,
        label: str = "",
        validators: Sequence[Callable] = (),
        *,
        filters: Sequence[Callable] = (),
        default: Any = None,
    ):
        self.label = Label(label)
        self.validators = tuple(validators)
        self.filters = tuple(filters)
        self.default = default

    def read(self, formdata, name: str, value: Any = _UNSET) -> Field:
        """The field ``name`` of ``formdata`` (None: the form as first shown), which
        starts from ``value`` (by default, the spec's default) when nothing is posted."""
        errors: list[str] = []
        data = self.from_data(self.default if value is _UNSET else value)
        raw_data = []
        if formdata is not None:
            raw_data = formdata.getlist(name) if name in formdata else []
            try:
                data = self.from_post(raw_data, data)
            except ValueError as error:
                errors.append(error.args[0])
        try:
            for keep in self.filters:
                data = keep(data)
        except ValueError as error:
            errors.append(error.args[0])
        return Field(self, name, data, raw_data, errors)

    def from_data(self, value: Any) -> Any:
        return value

    def from_post(self, values: list[str], data: Any) -> Any:
        return values[0] if values else data

    def pre_validate(self, field: Field) -> None:
        """Checks every value of the kind gets before its validators (none for text)."""


class Text(Spec):
    """A text input or text area."""


class Check(Spec):
    """A checkbox: True when posted with any value but WTForms' false ones."""

    FALSE_VALUES = (False, "false", "")

    def from_data(self, value: Any) -> bool:
        return bool(value)

    def from_post(self, values: list[str], data: Any) -> bool:
        return bool(values) and values[0] not in self.FALSE_VALUES


class Radio(Spec):
    """A group of radios (WTForms' ``RadioField``): the posted value coerced, and by
    default it must be one of the choices."""

    def __init__(
        self,
        label: str,
        validators: Sequence[Callable] = (),
        *,
        choices: Sequence,
        coerce: Callable[[Any], Any] = str,
        validate_choice: bool = True,
        default: Any = None,
    ):
        super().__init__(label, validators, default=default)
        self.choices = list(choices)
        self.coerce = coerce
        self.validate_choice = validate_choice
        self.allowed = [coerce(choice.value) for choice in self.choices]

    def from_data(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.coerce(value)
        except (ValueError, TypeError):
            return None

    def from_post(self, values: list[str], data: Any) -> Any:
        if not values:
            return data
        try:
            return self.coerce(values[0])
        except (ValueError, TypeError) as exc:
            raise ValueError("Invalid Choice: could not coerce.") from exc

    def pre_validate(self, field: Field) -> None:
        if field.process_errors or not self.validate_choice:
            return
        if field.data not in self.allowed:
            raise ValidationError("Not a valid choice.")


class PlainForm:
    """A form of ``Spec`` class attributes, read from ``formdata`` under ``prefix``;
    ``data`` gives fields their values before the post (WTForms' keyword data).

    Fields are made in the order they are declared, a subclass's after its
    bases'; a subclass drops one by setting it to None.
    """

    _specs: tuple[tuple[str, Spec], ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        specs: dict[str, Spec] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Spec):
                    specs[name] = value
                elif value is None and name in specs:
                    del specs[name]
        cls._specs = tuple(specs.items())

    def __init__(self, formdata=None, prefix: str = "", **data):
        self._prefix = prefix
        self._fields = {
            name: spec.read(formdata, prefix + name, data.get(name, _UNSET))
            for name, spec in self._specs
        }
        for name, field in self._fields.items():
            setattr(self, name, field)

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields.values())

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def validate(self) -> bool:
        """Check every field; True when none has an error."""
        results = [field.validate(self) for field in self._fields.values()]
        return all(results)

"""The singer-sdk standard target tests, subclassed so each also checks the rows in the
local Snowflake (or the precise failure this target gives)."""

from __future__ import annotations

import json

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing import target_tests as std
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from target_snowflake.reader import InputError, InvalidRecordError
from target_snowflake.target import TargetSnowflake

from testbed.servers import prepare_database
from tests.target.conftest import DATABASE, base_config, table_rows


class CheckRows:
    """Mixin: after the standard run, compare tables with `expected` rows."""

    expected: dict[str, tuple[str, list[tuple]]] = {}

    def validate(self) -> None:
        connection, schema = self.resource
        for table, (columns, rows) in self.expected.items():
            assert table_rows(connection, schema, table, columns) == rows, table


class ArrayData(CheckRows, std.TargetArrayData):
    expected = {
        "TEST_ARRAY_DATA": (
            '"ID", TO_JSON("FRUITS")',
            [
                (1, '["apple","orange","pear"]'),
                (2, '["banana","apple"]'),
                (3, '["pear"]'),
                (4, '["orange","banana","apple","pear"]'),
            ],
        )
    }


class CamelcaseComplexSchema(CheckRows, std.TargetCamelcaseComplexSchema):
    """Schema only (no records): the table exists with upper-cased columns."""

    expected = {"FORECASTINGTYPETOCATEGORY": ('"ID", "ISDELETED", "DISPLAYPOSITION"', [])}


class Camelcase(CheckRows, std.TargetCamelcaseTest):
    expected = {
        "TESTCAMELCASE": (
            '"ID", "CLIENTNAME"',
            [("1", "Gitter Windows Desktop App"), ("2", "Gitter iOS App")],
        )
    }


class CliPrints(std.TargetCliPrintsTest):
    pass


class DuplicateRecords(CheckRows, std.TargetDuplicateRecords):
    expected = {"TEST_DUPLICATE_RECORDS": ('"ID", "METRIC"', [(1, 100), (2, 20)])}


class EncodedStringData(CheckRows, std.TargetEncodedStringData):
    def validate(self) -> None:
        connection, schema = self.resource
        rows = dict(table_rows(connection, schema, "TEST_STRINGS", '"ID", "INFO"'))
        assert rows[2] == "απλή συμβολοσειρά"
        assert rows[3] == "简单的字串"
        assert rows[5] == 'quoted "string"'
        assert rows[6] == 'various " \\ / \n escape sequences'
        assert rows[10] == "Double quoting: \\u0000 \\u0041 \\u0001"
        assert len(rows) == 11


class InvalidSchema(std.TargetInvalidSchemaTest):
    def test(self) -> None:
        with pytest.raises(InputError, match="line 1: .*properties"):
            self.runner.sync_all()


class MultipleStateMessages(CheckRows, std.TargetMultipleStateMessages):
    """STATE goes out only once every record before it is committed: here all records
    load at the end, so the newest state is the one emitted."""

    expected = {
        "TEST_MULTIPLE_STATE_MESSAGES_A": ('"ID", "METRIC"', [(i, i * 100) for i in range(1, 7)]),
        "TEST_MULTIPLE_STATE_MESSAGES_B": ('"ID", "METRIC"', [(i, i * 110) for i in range(1, 7)]),
    }

    def test(self) -> None:
        self.runner.sync_all()
        last = {"test_multiple_state_messages_a": 5, "test_multiple_state_messages_b": 6}
        assert self.runner.state_messages == [last]


class NoPrimaryKeys(CheckRows, std.TargetNoPrimaryKeys):
    expected = {"TEST_NO_PK": ('"ID", "METRIC"', [(1, 11), (2, 22), (3, 33)])}


class OptionalAttributes(CheckRows, std.TargetOptionalAttributes):
    expected = {
        "TEST_OPTIONAL_ATTRIBUTES": (
            '"ID", "OPTIONAL"',
            [(1, "This is optional"), (2, None), (3, "Also optional"), (4, None)],
        )
    }


class RecordBeforeSchema(std.TargetRecordBeforeSchemaTest):
    def test(self) -> None:
        with pytest.raises(InputError, match="line 1, stream 'test_record_before_schema'"):
            self.runner.sync_all()


class RecordMissingKeyProperty(std.TargetRecordMissingKeyProperty):
    def test(self) -> None:
        with pytest.raises(InputError, match="line 2, stream .*missing key property 'id'"):
            self.runner.sync_all()


class RecordMissingRequiredProperty(std.TargetRecordMissingRequiredProperty):
    """A record without a `required` property fails its schema: the target stops."""

    def test(self) -> None:
        with pytest.raises(InvalidRecordError, match="line 2, .*missing required field `id`"):
            self.runner.sync_all()


class SchemaNoProperties(CheckRows, std.TargetSchemaNoProperties):
    def validate(self) -> None:
        connection, schema = self.resource
        for table in ("TEST_OBJECT_SCHEMA_WITH_PROPERTIES", "TEST_OBJECT_SCHEMA_NO_PROPERTIES"):
            rows = table_rows(connection, schema, table, 'TO_JSON("OBJECT_STORE")')
            assert [json.loads(r[0])["id"] for r in rows] == [1, 2]


class SchemaUpdates(CheckRows, std.TargetSchemaUpdates):
    expected = {
        "TEST_SCHEMA_UPDATES": (
            '"ID", "A1", "A3", "A6"',
            [
                (1, 101.0, None, None),
                (2, 102.0, True, None),
                (3, 103.0, False, None),
                (4, 104.0, True, None),
                (5, 105.0, False, 985),
                (6, 106.0, True, 341),
            ],
        )
    }


class PrimaryKeyUpdates(CheckRows, std.TargetPrimaryKeyUpdates):
    # key_properties sit inside "schema" in this file, so the stream has no key.
    expected = {
        "EXAMPLE_STREAM": (
            '"ID", "NAME", "EMAIL"',
            [(1, "Alice", "alice@example.com"), (2, "Bob", "bob@example.com")],
        )
    }


class SpecialCharsInAttributes(CheckRows, std.TargetSpecialCharsInAttributes):
    def validate(self) -> None:
        connection, schema = self.resource
        rows = table_rows(
            connection, schema, "TEST_SPECIALCHARS_IN_ATTRIBUTES", '"_ID", TO_JSON("D")'
        )
        assert rows[0][0] == "a2e98886"
        assert json.loads(rows[0][1])["agent:os:version"] == "10.13.1"


class RecordMissingOptionalFields(CheckRows, std.TargetRecordMissingOptionalFields):
    expected = {"RECORD_MISSING_FIELDS": ('"ID", "OPTIONAL"', [(1, "now you see me"), (2, None)])}


SUITE = SingerTestSuite(
    kind="target",
    tests=[
        ArrayData,
        CamelcaseComplexSchema,
        Camelcase,
        CliPrints,
        DuplicateRecords,
        EncodedStringData,
        InvalidSchema,
        MultipleStateMessages,
        NoPrimaryKeys,
        OptionalAttributes,
        RecordBeforeSchema,
        RecordMissingKeyProperty,
        RecordMissingRequiredProperty,
        SchemaNoProperties,
        SchemaUpdates,
        PrimaryKeyUpdates,
        SpecialCharsInAttributes,
        RecordMissingOptionalFields,
    ],
)

_StandardTests = get_target_test_class(
    TargetSnowflake, config={}, custom_suites=[SUITE], include_target_tests=False
)


class TestStandardTargetTests(_StandardTests):
    """Every test gets its own schema in the local Snowflake."""

    @pytest.fixture
    def resource(self, snowflake, request):
        test = request.node.name.removeprefix("test_target_")
        schema = f"STD_{test.upper()}"
        prepare_database(snowflake, DATABASE, schema)
        yield snowflake, schema

    @pytest.fixture
    def runner(self, snowflake_server, resource) -> TargetTestRunner:
        _, schema = resource
        return TargetTestRunner(
            target_class=TargetSnowflake, config=base_config(snowflake_server, schema)
        )

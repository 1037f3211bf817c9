"""Validates TOML files against a JSON Schema with Python's jsonschema, an
validator independent of migplan: `schema_check.py SCHEMA FILE...` prints
one JSON line per file: {"file", "valid", "errors"}. TOML is read with the
standard library's tomllib; date-times become RFC 3339 text, as editors
hand them to a schema."""

import datetime
import json
import sys
import tomllib

import jsonschema


def plain(value):
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return value


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    for path in sys.argv[2:]:
        try:
            with open(path, "rb") as f:
                doc = plain(tomllib.load(f))
        except tomllib.TOMLDecodeError as e:
            print(json.dumps({"file": path, "valid": False, "errors": [f"not TOML: {e}"]}))
            continue
        errors = [
            f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        print(json.dumps({"file": path, "valid": not errors, "errors": errors}))


main()

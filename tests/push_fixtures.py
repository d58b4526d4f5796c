"""Property definitions shared by the planner's and the sender's tests: the few
property kinds a push plans differently (text, number, an ordered enumeration, a unique
value, a read-only id)."""

from __future__ import annotations

DEFINITIONS = [
    {"name": "email", "type": "string", "fieldType": "text", "hasUniqueValue": True},
    {"name": "jobtitle", "type": "string", "fieldType": "text"},
    {"name": "seats", "type": "number", "fieldType": "number"},
    {
        "name": "lifecyclestage",
        "type": "enumeration",
        "fieldType": "radio",
        "options": [
            {"value": v, "displayOrder": i}
            for i, v in enumerate(["subscriber", "lead", "customer", "other"])
        ],
    },
    {
        "name": "hs_object_id",
        "type": "number",
        "modificationMetadata": {"readOnlyValue": True},
    },
]

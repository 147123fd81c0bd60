"""BPMN engine facade over SpiffWorkflow (parse, validate, run, serialize); knows no Flask or SQLAlchemy."""

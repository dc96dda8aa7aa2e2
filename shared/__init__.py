"""The partnermatch domain: taxonomy, schemas, models, matching, outbox and email."""

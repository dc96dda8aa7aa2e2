"""Public reference data: the service-area taxonomy, readers of the shipped files,
the council register, evidence, census, websites and email domains.
"""

"""Operations: figures for staff, repairing stuck work, purging expired records."""

"""Analysis: snapshot → guests frame → rule runs → :class:`~audit.analysis.result.AuditResult`.

``frame`` builds one row per guest, ``engine`` runs the rules, ``outcomes`` predicts each guest's
result in the target, ``findings`` and ``summary`` tabulate, ``waivers`` mutes what the config
waives, ``diff`` compares two results. Nothing here does I/O or imports the collectors.
"""

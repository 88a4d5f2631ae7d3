"""`tthc`, the command line: it sits above `tracker`, `jobs` and `web` and imports them; none of them
imports it.

main.py      the parser and `main` (the console script `tthc`; also `python -m cli`)
common.py    what the commands share: CliError, argument types, the database, output
database.py  init, db                          rules.py     due, calendar
dossiers.py  classify, dossier                 data.py      import, export, units, procedures, refresh
demo.py      demo                              reports.py   report, score, audit
figures.py   portal-figures                    ops.py       backup, restore, check, version
predict.py   predict                           scheduler.py scheduler, digest
users.py     users                             serve.py     serve

Each command module has `add_commands(sub)`, registering its commands on main's subparsers.
Exit codes: 0 done; 1 an error (bad settings, a rejected file, a database not initialised);
2 a usage error; 3 an import that stored some rows and rejected others.
"""

"""``python -m oms_export`` runs the ``oms-export`` command."""

from oms_export.cli.main import main

main()

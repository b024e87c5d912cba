#!/usr/bin/env python
"""Run the example: NRPFILES_URL=... NRPFILES_TOKEN=... python manage.py runserver"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_files.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

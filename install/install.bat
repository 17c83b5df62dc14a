@echo off
rem VidMusician for DaVinci Resolve (Windows): install\install.bat [--system] [--ml] [--dry-run] [--uninstall] ...
rem Runs install\install.py with a Python 3.11+ (the py launcher first) and the same options.
where py >nul 2>nul && py -3 -c "import sys; sys.exit(sys.version_info < (3, 11))" >nul 2>nul && goto :launcher
python -c "import sys; sys.exit(sys.version_info < (3, 11))" >nul 2>nul && goto :python
echo VidMusician needs Python 3.11 or newer: install it from python.org (tick "Add python.exe to PATH"), then run this again. 1>&2
exit /b 2
:launcher
py -3 "%~dp0install.py" %*
exit /b
:python
python "%~dp0install.py" %*
exit /b

"""The thin command line: parse, call one library function, render. No decisions here."""

"""What both HTTP surfaces need, the JSON API (`api/`) and the pages (`web/`): the database
session per request (`deps`) and the wording of input validation errors (`validation`).
`api/` and `web/` import from here, never from each other."""

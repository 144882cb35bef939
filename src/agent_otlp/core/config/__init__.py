"""Configuration: settings with their origins (``settings``), the parsers of their values
(``parsers``), the config file and the destination list (``loading``), environment variables
(``envvars``), header values (``headers``), TLS material (``tls``), secrets that never print
(``secrets``) and the project's errors (``errors``)."""

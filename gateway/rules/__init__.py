"""The mappings (strict YAML, Secret fields), flow matching, templates and the ticket lifecycle; pure."""

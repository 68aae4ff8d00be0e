"""Every write to the rumor stock goes through these functions: views, admin, commands and tasks call them."""

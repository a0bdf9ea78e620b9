"""Small helpers shared by the packages (file writing, errors)."""

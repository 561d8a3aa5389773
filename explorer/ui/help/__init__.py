"""In-app help: each panel's guide (F1), the cheatsheet of facts the panels show, the keyboard shortcuts."""

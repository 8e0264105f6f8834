"""The ground floor: storage, lake, SQL loading, money and prices. Imports nothing of the project."""

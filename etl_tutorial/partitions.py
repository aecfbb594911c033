"""The partitions of the two analysis tables. They also decide what the CSVs may hold: a
product's category must be a category partition, and a sale's date must fall in a month.
The sample-data generator reads the categories from here too."""

import dagster as dg

# One partition per month from January 2024.
monthly_partition = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")

# One partition per product category.
product_category_partition = dg.StaticPartitionsDefinition(
    ["Electronics", "Books", "Home and Garden", "Clothing"]
)

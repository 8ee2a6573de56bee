"""Daily partitions: the partition key is the execution date the seed passes to notebooks."""

import dagster as dg

from credit_assets.settings import Settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=Settings.from_env().partitions_start,
    end_offset=1,  # today's applications are decided today
)

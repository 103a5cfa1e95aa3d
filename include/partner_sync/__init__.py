"""partner-sync: keeps HubSpot CRM in two-way sync with AWS Partner Central and Microsoft
Partner Center, as an Apache Airflow 3 DAG package."""

__version__ = "0.1.0"

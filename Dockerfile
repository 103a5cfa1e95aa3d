# The Airflow image with this package installed (used by docker-compose.yaml).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt pyproject.toml /opt/partner-sync/
COPY --chown=airflow:0 include /opt/partner-sync/include
WORKDIR /opt/partner-sync
# the FAB auth manager is what compose configures for users and roles
RUN pip install --no-cache-dir -r requirements.txt apache-airflow-providers-fab==3.10.2
WORKDIR /opt/airflow

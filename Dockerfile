# Local Airflow on the Astro CLI (`astro dev start`): the same DAGs, package and include/ as MWAA, in the
# Astro Runtime image. Production is Amazon MWAA (Airflow 3.3.1, Python 3.12); this image matches both:
#   runtime 3.3-7 ships Apache Airflow 3.3.1 (+astro.4) - read from the image's labels
#   (io.astronomer.docker.airflow.version=3.3.1+astro.4, io.astronomer.docker.runtime.version=3.3-7);
#   the default 3.3-x image runs Python 3.14, so the -python-3.12 variant is used, as on MWAA.
# A newer 3.3-y tag may carry a newer Airflow patch: tests/deploy/test_astro_consistency.py pins the 3.3 family.
#
# The image's ONBUILD steps install packages.txt and requirements.txt (the same file MWAA installs, with the
# same constraint line). packages.txt: build-essential, default-libmysqlclient-dev and pkg-config are what
# mysqlclient (apache-airflow-providers-mysql) compiles against; default-jre-headless and libmariadb-java
# (its JDBC jar) are for the local Glue endpoint below.
FROM astrocrpublic.azurecr.io/runtime:3.3-7-python-3.12

# The `glue` service of docker-compose.override.yml runs this same image as the local Glue endpoint
# (devstack/glue_local.py: moto's Glue API whose job runs run the scripts on local PySpark, the same Spark
# 3.5.4 as Glue 5.0 and requirements-lock.txt). Local only: MWAA runs them on AWS Glue, so pyspark is not in
# requirements.txt. The Airflow containers never run Spark: they call Glue, like on MWAA.
RUN pip install --no-cache-dir pyspark==3.5.4

# Local values only, the same as devstack/env.py: every AWS call goes to the moto service of
# docker-compose.override.yml (AWS_ENDPOINT_URL covers every boto3 client), never to a real account; Glue
# calls go to the glue service (airflow_settings.yaml routes the aws_default connection's Glue there too).
ENV DATAPLATFORM_PREFIX=reco-local \
    DATAPLATFORM_REGION=eu-west-1 \
    DATAPLATFORM_ACCOUNT_ID=123456789012 \
    DATAPLATFORM_RETRY_DELAY_SECONDS=1 \
    AWS_ENDPOINT_URL=http://moto:5000 \
    AWS_ENDPOINT_URL_GLUE=http://glue:5000 \
    AWS_ACCESS_KEY_ID=testing \
    AWS_SECRET_ACCESS_KEY=testing \
    AWS_DEFAULT_REGION=eu-west-1

# The Airflow configuration `make up` runs its local platform with (devstack/airflow_local/settings.py:
# AIRFLOW_CONFIG): the LocalExecutor with 4 task slots, new DAG files picked up within 30 s. The SLA-miss deadline
# intervals (DATAPLATFORM_<DAG_ID>_DEADLINE_SECONDS) are left at their defaults here as there.
ENV AIRFLOW__CORE__EXECUTOR=LocalExecutor \
    AIRFLOW__CORE__PARALLELISM=4 \
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30

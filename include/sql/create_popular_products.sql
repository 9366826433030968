-- Purpose: the popular-products table read by the recommender's fallback. Idempotent.
-- Parameters: none.
-- Caller: dataplatform.popular_products.publish.
CREATE TABLE IF NOT EXISTS popular_products (
    country      text    NOT NULL,  -- a customer country, or '*' for all countries
    product_code text    NOT NULL,
    units_7d     integer NOT NULL,
    units_30d    integer NOT NULL,
    units_total  integer NOT NULL,
    rank         integer NOT NULL,  -- 1 = most popular in that country: 7 days, then 30 days, then all time
    as_of        date    NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, product_code)
);
CREATE INDEX IF NOT EXISTS popular_products_country_rank ON popular_products (country, rank);

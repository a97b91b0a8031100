-- +goose Up
-- The Oracle form of migrations/stats/00006_delivery_in_place.sql. A receipt makes a delivery
-- row longer (a longer status, a milestone time where there was none); Oracle keeps PCTFREE of
-- each block for rows to grow into, 10 % by default, about what a receipt adds to a row. The
-- day partitions created from now on keep 20 %, so that a receipt does not migrate its row to
-- another block.
ALTER TABLE delivery MODIFY DEFAULT ATTRIBUTES PCTFREE 20;

-- +goose Down
ALTER TABLE delivery MODIFY DEFAULT ATTRIBUTES PCTFREE 10;

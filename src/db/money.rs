//! Money columns, whose representation differs per backend: `NUMERIC(10,2)` on PostgreSQL,
//! integer cents on SQLite (whose `NUMERIC` affinity would store binary floating point).
//! Every read and write of a money column goes through these two functions.

use rust_decimal::Decimal;
use sea_orm::{DbBackend, DbErr, QueryResult, Value};

use crate::domain::Money;

/// The value to bind for `money` in a statement on `backend`.
pub fn to_value(backend: DbBackend, money: Money) -> Value {
    match backend {
        DbBackend::Postgres => Value::from(money.amount()),
        _ => Value::from(money.cents()),
    }
}

/// Reads the money column `column` of `row`.
pub fn read(row: &QueryResult, column: &str, backend: DbBackend) -> Result<Money, DbErr> {
    let money = match backend {
        DbBackend::Postgres => Money::from_decimal(row.try_get::<Decimal>("", column)?),
        _ => Money::from_cents(row.try_get::<i64>("", column)?),
    };
    money.map_err(|invalid| DbErr::Type(format!("{column} holds an invalid amount: {invalid:?}")))
}

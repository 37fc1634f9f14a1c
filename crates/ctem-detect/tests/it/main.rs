mod engine;
mod ioc;
mod modifiers;
mod regression;

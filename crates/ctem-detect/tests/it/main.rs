mod engine;
mod ioc;
mod matching;
mod modifiers;
mod regression;

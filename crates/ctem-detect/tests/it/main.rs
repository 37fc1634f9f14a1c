mod engine;
mod modifiers;
mod regression;

mod modifiers;
mod regression;

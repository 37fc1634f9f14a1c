mod kpis;

LEFT JOIN LATERAL (
    SELECT n.v, n.d
      FROM (SELECT t.{field} AS v, public.ST_Distance(public.ST_Transform(t.geom, 4326)::public.geography,
                                                public.ST_Transform(pt, 4326)::public.geography) AS d
              FROM {table} t
             ORDER BY t.geom OPERATOR(public.<->) public.ST_Transform(pt, {srid})
             LIMIT 8) n
     WHERE n.d <= {max_m}
     ORDER BY n.d, n.v
     LIMIT 1) {alias} ON true
